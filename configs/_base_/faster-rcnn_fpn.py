# Faster R-CNN with FPN, the modern mmdet standard. Leaf configs set `backbone`.
_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'
