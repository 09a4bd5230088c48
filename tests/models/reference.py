"""An independent reference: ScaleNet as the paper (Sec. 3.1, Fig. 2) and the authors' release describe it, in
their checkpoint key layout.

Written from the description, sharing no code with the package, so the parity test compares two implementations.
"""
import json

import torch
import torch.nn as nn
import torch.nn.functional as F

FACTORS = [1, 2, 4, 7]
BLOCKS = {50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}


class ReferenceBlock(nn.Module):

    def __init__(self, inplanes, planes, row, first, pool):
        super().__init__()
        channels, side = row[:4], row[4]
        self.pool = pool
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.ModuleDict()
        self.bn2 = nn.ModuleDict()
        for i, c in enumerate(channels):
            if c > 0:
                k = 3 if side / 2 ** i > 1 else 1
                self.conv2[str(i)] = nn.Conv2d(planes, c, k, padding=(k - 1) // 2, bias=False)
                self.bn2[str(i)] = nn.BatchNorm2d(c)
        self.conv3 = nn.Conv2d(sum(channels), planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        if first:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, bias=False),
                                            nn.BatchNorm2d(planes * 4))
        else:
            self.downsample = None

    def forward(self, x):
        if self.pool:
            x = F.max_pool2d(x, 2, 2)
        shortcut = x if self.downsample is None else self.downsample(x)
        y = F.relu(self.bn1(self.conv1(x)))
        branches = []
        for key in sorted(self.conv2, key=int):
            s = FACTORS[int(key)]
            b = y if s == 1 else F.max_pool2d(y, s, s)
            b = self.conv2[key](b)
            if s > 1:
                H, W = y.shape[2:]
                h, w = b.shape[2:]
                if H % h == 0 and W % w == 0:
                    b = F.interpolate(b, size=(H, W), mode='nearest')
                else:
                    b = F.interpolate(b, size=(H, W), mode='bilinear', align_corners=False)
            branches.append(self.bn2[key](b))
        y = F.relu(torch.cat(branches, 1))
        y = self.bn3(self.conv3(y))
        return F.relu(y + shortcut)


class ReferenceScaleNet(nn.Module):

    def __init__(self, depth, rows):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        inplanes, r = 64, 0
        for stage, n in enumerate(BLOCKS[depth]):
            planes = 64 * 2 ** stage
            blocks = []
            for b in range(n):
                blocks.append(ReferenceBlock(inplanes, planes, rows[r], first=b == 0, pool=b == 0 and stage > 0))
                inplanes, r = planes * 4, r + 1
            setattr(self, f'layer{stage + 1}', nn.Sequential(*blocks))
        self.fc = nn.Linear(2048, 1000)

    def logits(self, x):
        """The classifier: stage-4 features, global average pooling, the 1000-way fc."""
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.forward(x)[-1], 1), 1))

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        outs = []
        for stage in range(4):
            x = getattr(self, f'layer{stage + 1}')(x)
            outs.append(x)
        return outs


def random_reference(depth, rows, seed=0):
    """A reference network with random weights and random BN statistics, in eval mode."""
    torch.manual_seed(seed)
    model = ReferenceScaleNet(depth, rows)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode='fan_out')
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.0)
            m.bias.data.uniform_(-0.2, 0.2)
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.num_batches_tracked.fill_(1234)
    for name, m in model.named_modules():
        if name.endswith('bn3'):
            m.weight.data.mul_(0.3)  # keep the residual stream bounded over 50 blocks
    return model.eval()


def stage_sizes(size):
    """``(h, w)`` of each stage's map for an input ``size``, as the forward above computes them: the 7x7/2 conv
    (padding 3), the 3x3/2 max-pool (padding 1), then the 2x2/2 max-pool before stages 2-4."""

    def stem(side):
        side = (side + 2 * 3 - 7) // 2 + 1
        return (side + 2 * 1 - 3) // 2 + 1

    sizes = [(stem(size[0]), stem(size[1]))]
    for _ in range(3):
        sizes.append((sizes[-1][0] // 2, sizes[-1][1] // 2))
    return sizes


#: The cases of the upsampling rule: which sides of a stage's map are whole multiples of a pooled branch's map.
#: Only ``both`` takes nearest; the other three take bilinear.
UPSAMPLING_CASES = ('both', 'height', 'width', 'neither')


def upsampling_cases(size, depth, rows):
    """For an input ``size``, the case of the upsampling rule that each pooled branch meets, as
    ``{(stage, factor): case}`` (stages from 1; every factor above 1 that some block of the stage has).

    A case names the sides of the stage's map ``(H, W)`` that are whole multiples of the branch's pooled map
    ``(H // factor, W // factor)``: ``both`` (nearest), ``height``, ``width`` or ``neither`` (bilinear). Sizes where
    a pooled map would be empty (a stage side below its factor) are refused: the reference does not run there.
    """
    cases, first = {}, 0
    for stage, ((h, w), blocks) in enumerate(zip(stage_sizes(size), BLOCKS[depth])):
        for row in rows[first:first + blocks]:
            for factor, channels in zip(FACTORS, row[:4]):
                if factor == 1 or channels == 0:
                    continue
                if min(h, w) < factor:
                    raise ValueError(f'input {size}: stage {stage + 1} is {h}x{w}, below the factor-{factor} pool')
                divides = (h % (h // factor) == 0, w % (w // factor) == 0)
                cases[stage + 1, factor] = {(True, True): 'both', (True, False): 'height',
                                            (False, True): 'width', (False, False): 'neither'}[divides]
        first += blocks
    return cases


#: Two input sizes that together meet every case of the upsampling rule in every stage of ``scalenet50_light``
#: (which has factors 2, 4 and 7 in all four stages): per input, per stage, the case of the factor-2, -4 and -7
#: branches, as :func:`upsampling_cases` computes them (a test checks this table). Both sizes are at least 221, the
#: smallest input whose stage-4 map can be pooled by 7 (what the ONNX export requires).
SEPARATING_CASES = {
    (221, 285): {1: ('both', 'both', 'height'),  # stage 1 is 56x72
                 2: ('both', 'both', 'height'),  # 28x36
                 3: ('both', 'neither', 'both'),  # 14x18
                 4: ('neither', 'height', 'both')},  # 7x9
    (293, 237): {1: ('both', 'width', 'neither'),  # 74x60
                 2: ('width', 'neither', 'neither'),  # 37x30
                 3: ('height', 'width', 'height'),  # 18x15
                 4: ('neither', 'width', 'both')},  # 9x7
}
SEPARATING_SIZES = list(SEPARATING_CASES)


def load_rows(path):
    with open(path) as f:
        return json.load(f)
