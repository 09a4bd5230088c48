"""Pictures of predictions: upscaled images with class-coloured boxes above a score threshold and a legend."""
import pickle

import numpy as np
import pytest
import torch
from matplotlib.image import imread, imsave

from scalenet_lab.detections import draw_detections, load_predictions


def predictions(tmp_path, count=3):
    results = []
    for i in range(count):
        path = tmp_path / f'img{i}.png'
        imsave(path, np.full((24, 32, 3), 0.5))
        results.append(dict(img_path=str(path), ori_shape=(24, 32), pred_instances=dict(
            bboxes=torch.tensor([[2., 2., 20., 20.], [5., 5., 9., 9.]]), scores=torch.tensor([0.9, 0.1]),
            labels=torch.tensor([1, 0]))))
    out = tmp_path / 'preds.pkl'
    out.write_bytes(pickle.dumps(results))
    return str(out)


def test_every_image_is_drawn_upscaled_with_an_overview(tmp_path):
    results = load_predictions(predictions(tmp_path))
    files = draw_detections(results, ('a', 'b'), str(tmp_path / 'out'), scale=4)
    assert [f.rsplit('/', 1)[1] for f in files] == ['img0.png', 'img1.png', 'img2.png', 'overview.png']
    image = imread(files[0])
    assert image.shape[1] == 4 * 32  # 4x the width; the height adds the legend
    assert image.shape[0] > 4 * 24
    box_colour = np.array([0x3c, 0xb4, 0x4b]) / 255  # class 1's colour: the 0.9 box is drawn
    assert (np.abs(image[..., :3] - box_colour).max(axis=-1) < 0.05).sum() > 50


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pkl: predictions file not found'):
        load_predictions(str(tmp_path / 'nope.pkl'))
    (tmp_path / 'bad.pkl').write_bytes(pickle.dumps({'a': 1}))
    with pytest.raises(ValueError, match='expected the list of per-image results'):
        load_predictions(str(tmp_path / 'bad.pkl'))
    with pytest.raises(ValueError, match='expected the class names'):
        draw_detections([], (), str(tmp_path / 'out'))
