"""The explorer: traces come from the real streaming pass, the widget shows what the traces hold."""

import io
import re

import pytest
import torch
from torch import nn

import rvit.widgets as widgets_module
from rvit import FrameViT, RViT, RViTConfig
from rvit.config import OPTIONS
from rvit.data import SyntheticActions
from rvit.widgets import ExplorerFigure, VideoExplorer, animate, trace_video

SIZE = 16
CLASSES = ["waving", "raise_arms", "lower_arms"]
K = len(CLASSES)


def tiny(**overrides) -> RViTConfig:
    settings = {"dim": 16, "depth": 2, "heads": 2, "mlp_ratio": 1.0, "patch_size": 4}
    settings.update(overrides)
    return RViTConfig.reconstruction(num_classes=K, image_size=SIZE, **settings)


def lively(model: nn.Module, seed: int = 0) -> nn.Module:
    """Larger random weights, so probabilities and attention are far from uniform."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                for param in module.parameters():
                    param.copy_(torch.randn(param.shape, generator=generator) * 0.3)
    return model.eval()


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors: one thread avoids waiting on the others (restored after this module)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def video_set() -> SyntheticActions:
    return SyntheticActions(
        "test", "video", num_samples=6, frames=4, image_size=SIZE, classes=CLASSES, difficulty=0.3
    )


@pytest.fixture(scope="module")
def models() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {"first": lively(RViT(tiny()), 1), "second": lively(RViT(tiny(depth=3)), 2)}


def clip(t: int = 4) -> torch.Tensor:
    return torch.rand(t, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(t))


# --- trace_video: the numbers of the real streaming pass -----------------------------------------


CONFIGS = {
    "reconstruction": tiny(),
    "variant_memory_gate": RViTConfig.variant(
        num_classes=K,
        image_size=SIZE,
        dim=16,
        depth=2,
        heads=2,
        patch_size=4,
        gate_kv="memory",
        memory_entry="keys",
        recurrence="gate",
        tokens="patches",
    ),
    # every key layout of the gate, so a new one is traced (or refused) by these tests
    **{f"gate_kv={kv}": tiny(gate_kv=kv) for kv in OPTIONS["gate_kv"]},
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_traced_probabilities_equal_the_batched_forward(name):
    model = lively(RViT(CONFIGS[name]))
    video = clip(5)
    trace = trace_video(model, video, label=1)
    with torch.no_grad():
        expected = model(video[None], return_all=True).softmax(dim=-1)[0]  # (T, K)
    torch.testing.assert_close(trace.probs, expected)
    assert trace.probs.std(dim=-1).min() > 0.01  # far from uniform, so the comparison can fail
    reversed_trace = trace_video(model, video.flip(0))
    assert not torch.allclose(reversed_trace.probs, trace.probs, atol=1e-3)
    assert trace.label == 1
    torch.testing.assert_close(trace.confidence(), trace.probs[:, 1])
    torch.testing.assert_close(trace.frames, video)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_traced_gate_attention_equals_the_hooked_weights(name):
    cfg = CONFIGS[name]
    model = lively(RViT(cfg))
    captured: list[torch.Tensor] = []

    def hook(module, inputs, output):
        captured.append(output[1].detach().clone())  # (1, heads, N, M)

    handles = [block.gate.attn.register_forward_hook(hook) for block in model.blocks]
    try:
        trace = trace_video(model, clip(4), keep_weights=True)
    finally:
        for handle in handles:
            handle.remove()
    depth, frames = cfg.depth, 4
    assert len(captured) == depth * frames  # one call per layer per frame, in order
    grid = SIZE // cfg.patch_size
    n = grid * grid
    for t in range(frames):
        for layer in range(depth):
            hooked = captured[t * depth + layer][0]  # (heads, N, M)
            torch.testing.assert_close(trace.weights[t][layer], hooked, rtol=0, atol=0)
            received = hooked.mean(dim=(0, 1))  # (M,)
            blocks = dict(model.blocks[layer].gate.key_blocks(n))
            zeros = torch.zeros(n)
            frame_part = received[blocks["frame"]] if "frame" in blocks else zeros
            memory_part = received[blocks["memory"]] if "memory" in blocks else zeros
            torch.testing.assert_close(trace.frame_attention[t, layer].flatten(), frame_part)
            torch.testing.assert_close(trace.memory_attention[t, layer].flatten(), memory_part)
    # the shares of all keys add up to one (up to the linear kernel's eps)
    total = trace.frame_attention.sum(dim=(-2, -1)) + trace.memory_share  # (T, depth)
    torch.testing.assert_close(total, torch.ones(frames, depth), atol=1e-4, rtol=0)
    keyed = trace.frame_attention if "frame" in blocks else trace.memory_attention
    assert keyed.std() > 0  # not a uniform map, so the comparison can fail


def test_traced_hidden_norms_match_the_stepped_states():
    model = lively(RViT(tiny()))
    video = clip(3)
    trace = trace_video(model, video)
    state = model.init_state(1, num_frames=3)
    with torch.no_grad():
        for t in range(3):
            _, state = model.step(video[t : t + 1], state)
            norms = torch.stack([h.norm(dim=-1).mean() for h in state.hidden])  # (depth,)
            torch.testing.assert_close(trace.hidden_norm[t], norms)


def test_trace_is_causal():
    model = lively(RViT(tiny()))
    video = clip(5)
    full = trace_video(model, video)
    prefix = trace_video(model, video[:3])
    torch.testing.assert_close(prefix.probs, full.probs[:3])
    torch.testing.assert_close(prefix.frame_attention, full.frame_attention[:3])
    torch.testing.assert_close(prefix.hidden_norm, full.hidden_norm[:3])


def test_trace_restores_training_mode_and_keeps_no_graph():
    model = lively(RViT(tiny())).train()
    trace = trace_video(model, clip(2))
    assert model.training
    assert not trace.probs.requires_grad
    assert trace.weights is None


def test_trace_reads_the_key_layout_from_the_gate(monkeypatch):
    model = lively(RViT(tiny()))
    plain = trace_video(model, clip(3))

    def swapped(n):  # the same weights, read as if the gate put its memory keys first
        return [("memory", slice(0, n)), ("frame", slice(n, 2 * n))]

    for block in model.blocks:
        monkeypatch.setattr(block.gate, "key_blocks", swapped)
    trace = trace_video(model, clip(3))
    torch.testing.assert_close(trace.frame_attention, plain.memory_attention)
    torch.testing.assert_close(trace.memory_attention, plain.frame_attention)


def test_trace_refuses_keys_it_cannot_show(monkeypatch):
    model = lively(RViT(tiny()))
    for block in model.blocks:
        monkeypatch.setattr(
            block.gate,
            "key_blocks",
            lambda n: [("frame", slice(0, n)), ("summary", slice(n, 2 * n))],
        )
    with pytest.raises(ValueError, match="key block 'summary'"):
        trace_video(model, clip(2))
    for block in model.blocks:
        monkeypatch.setattr(block.gate, "key_blocks", lambda n: [("frame", slice(0, n))])
    with pytest.raises(ValueError, match=r"a gate reading \['frame'\]"):
        trace_video(model, clip(2))


def test_trace_of_a_model_without_a_gate():
    model = lively(FrameViT(tiny()))
    trace = trace_video(model, clip(3), label=0)
    assert trace.frame_attention is None and trace.hidden_norm is None and trace.depth is None
    with torch.no_grad():
        expected = model(clip(3)[None], return_all=True).softmax(dim=-1)[0]
    torch.testing.assert_close(trace.probs, expected)
    figure = ExplorerFigure({"frames only": trace}, CLASSES)
    assert figure.to_png()[:4] == b"\x89PNG"


def test_trace_top_and_rival():
    trace = trace_video(lively(RViT(tiny())), clip(3), label=2)
    for t in range(3):
        top = trace.top(t)
        assert [k for k, _ in top] == trace.probs[t].argsort(descending=True).tolist()
        assert top[0][0] == int(trace.predictions[t])
        others = [p for k, p in enumerate(trace.probs[t].tolist()) if k != 2]
        assert trace.rival()[t].item() == pytest.approx(max(others))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": nn.Linear(2, 2)}, "streaming model"),
        ({"video": torch.rand(3, SIZE, SIZE)}, "shape"),
        ({"video": torch.zeros(2, 3, 3, SIZE, SIZE)}, "shape"),
        ({"video": torch.zeros(0, 3, SIZE, SIZE)}, "0 frames"),
        ({"video": torch.zeros(2, 3, SIZE, SIZE, dtype=torch.uint8)}, "floating-point"),
        ({"video": [1, 2]}, "torch.Tensor"),
        ({"label": K}, "out of range"),
        ({"label": "waving"}, "class index"),
    ],
)
def test_trace_errors(kwargs, message):
    args = {"model": RViT(tiny()), "video": clip(2), "label": None, **kwargs}
    with pytest.raises(ValueError, match=message):
        trace_video(args["model"], args["video"], args["label"])


def test_trace_rejects_a_frame_index_or_layer_out_of_range():
    trace = trace_video(RViT(tiny()), clip(2))
    with pytest.raises(ValueError, match="frame index"):
        trace.top(2)
    with pytest.raises(ValueError, match="layer 2 is out of range"):
        trace.heat(2)
    with pytest.raises(ValueError, match="keys"):
        trace.heat(0, keys="queries")
    with pytest.raises(ValueError, match="no label"):
        trace.confidence()


# --- the live explorer -----------------------------------------------------------------------------


def expected_view(explorer: VideoExplorer, name: str) -> tuple[list, list]:
    """The top-5 and the true-class confidence so far, straight from a fresh trace."""
    video, label = explorer.video_set[explorer.index]
    trace = trace_video(explorer.models[name], video, label)
    t = explorer.frame_slider.value - 1  # the slider counts frames from 1
    top = [(CLASSES[k], p) for k, p in trace.top(t)]
    return top, trace.probs[: t + 1, label].tolist()


@pytest.fixture(scope="module")
def explorer(models, video_set) -> VideoExplorer:
    return VideoExplorer(models, video_set, dpi=40)


def test_explorer_shows_the_trace_at_the_chosen_frame(explorer, models, video_set):
    explorer.class_dropdown.value = 0
    explorer.sample_slider.value = 0
    assert explorer.current.frame == 0 and explorer.frame_slider.value == 1
    assert explorer.frame_slider.max == video_set.lengths[explorer.index]
    assert explorer.play.max == explorer.frame_slider.max
    before = explorer.image.value
    explorer.frame_slider.value = 3  # the third frame, as the figure's title counts
    view = explorer.current
    assert view.frame == 2 and view.num_frames == video_set.lengths[view.index]
    assert f"frame 3 of {view.num_frames}" in explorer.caption.value
    assert explorer.image.value != before and explorer.image.value[:4] == b"\x89PNG"
    for name in models:
        top, confidence = expected_view(explorer, name)
        assert [c for c, _ in view.top5[name]] == [c for c, _ in top]
        assert [p for _, p in view.top5[name]] == pytest.approx([p for _, p in top], abs=1e-6)
        assert view.confidence[name] == pytest.approx(confidence, abs=1e-6)
        assert len(view.confidence[name]) == 3


def test_explorer_follows_the_chosen_class_and_video(explorer, models, video_set):
    explorer.class_dropdown.value = 0
    explorer.frame_slider.value = 4
    explorer.class_dropdown.value = 2
    view = explorer.current
    assert (view.class_name, view.label, view.sample, view.frame) == ("lower_arms", 2, 0, 0)
    assert video_set[view.index][1] == 2
    assert explorer.sample_slider.max == video_set.targets.count(2) - 1
    first_index, first_image = view.index, explorer.image.value
    explorer.sample_slider.value = 1
    view = explorer.current
    assert view.index != first_index and video_set[view.index][1] == 2
    assert explorer.image.value != first_image
    for name in models:
        _, confidence = expected_view(explorer, name)
        assert view.confidence[name] == pytest.approx(confidence, abs=1e-6)
    assert "lower_arms" in explorer.caption.value


def test_explorer_traces_each_video_once(models, video_set, monkeypatch):
    calls = []
    real = widgets_module.trace_video

    def counting(model, video, label=None, keep_weights=False):
        calls.append(label)
        return real(model, video, label, keep_weights)

    monkeypatch.setattr(widgets_module, "trace_video", counting)
    explorer = VideoExplorer({"first": models["first"]}, video_set, dpi=30)
    assert len(calls) == 1
    explorer.frame_slider.value = 2
    explorer.layer_dropdown.value = 0
    assert len(calls) == 1  # moving the frame or the layer only redraws
    explorer.sample_slider.value = 1
    explorer.sample_slider.value = 0
    assert len(calls) == 2  # the first video came from the cache


def test_explorer_layer_and_keys(explorer, models, video_set):
    explorer.class_dropdown.value = 1
    explorer.layer_dropdown.value = 2
    explorer.keys_buttons.value = "frame"
    assert explorer.layer_dropdown.options[-1][1] == 2  # the deepest model's last layer
    explorer.frame_slider.value = 2
    explorer.layer_dropdown.value = 0
    view = explorer.current
    video, label = video_set[view.index]
    shares = {name: trace_video(model, video, label).memory_share for name, model in models.items()}
    for name in models:
        assert view.memory_share[name] == pytest.approx(float(shares[name][1, 0]), abs=1e-6)
    before = explorer.image.value
    explorer.keys_buttons.value = "memory"
    assert explorer.current.keys == "memory" and explorer.image.value != before
    # a layer beyond a shallower model's depth shows that model's last layer
    explorer.layer_dropdown.value = 2
    view = explorer.current
    assert view.memory_share["first"] == pytest.approx(float(shares["first"][1, 1]), abs=1e-6)
    assert view.memory_share["second"] == pytest.approx(float(shares["second"][1, 2]), abs=1e-6)
    assert view.frame == 1  # changing the heat map keeps the frame


def test_explorer_links_play_to_the_frame_slider(explorer):
    assert explorer.play_link.source == (explorer.play, "value")
    assert explorer.play_link.target == (explorer.frame_slider, "value")
    assert explorer._repr_mimebundle_()  # displays as the widget box


def test_explorer_errors(models, video_set):
    with pytest.raises(ValueError, match="non-empty dict"):
        VideoExplorer({}, video_set)
    with pytest.raises(ValueError, match="streaming model"):
        VideoExplorer({"bad": nn.Linear(2, 2)}, video_set)
    with pytest.raises(ValueError, match="outside the 2 class names"):
        VideoExplorer(models, video_set, class_names=["a", "b"])
    with pytest.raises(ValueError, match="predicts 3 classes"):
        small = SyntheticActions("test", "video", num_samples=2, frames=2, image_size=SIZE)
        VideoExplorer(models, small)  # 12 class names, models with 3 classes


# --- the figure and the animation --------------------------------------------------------------


def test_figure_checks_its_traces():
    model = RViT(tiny())
    short, long = trace_video(model, clip(2)), trace_video(model, clip(3))
    with pytest.raises(ValueError, match="same video"):
        ExplorerFigure({"a": short, "b": long}, CLASSES)
    with pytest.raises(ValueError, match="class_names has 2 names"):
        ExplorerFigure({"a": short}, CLASSES[:2])
    with pytest.raises(ValueError, match="keys"):
        ExplorerFigure({"a": short}, CLASSES, keys="all")
    figure = ExplorerFigure({"a": short}, CLASSES)
    with pytest.raises(ValueError, match="frame index"):
        figure.update(2)


def test_animation_embeds_one_image_per_frame(models):
    one = {"first": models["first"]}
    html = animate(one, clip(3), label=1, class_names=CLASSES, dpi=30, width=3).data
    frames = re.findall(r'data:image/png;base64,([^"]+)"', html)
    assert len(frames) == 3
    assert len(set(frames)) == 3  # each frame is drawn after its own update
    assert "<script" in html
    import base64

    from PIL import Image

    first = base64.b64decode(frames[0].replace("\\n", "").replace("\n", ""))
    assert float(Image.open(io.BytesIO(first)).info[widgets_module.MIN_FONT_KEY]) >= 8
    with pytest.raises(ValueError, match="embed_limit_mb"):
        animate(one, clip(3), label=1, class_names=CLASSES, dpi=30, embed_limit_mb=0.001)


def test_explorer_figures_record_their_smallest_font(explorer):
    from PIL import Image

    image = Image.open(io.BytesIO(explorer.image.value))
    assert float(image.info[widgets_module.MIN_FONT_KEY]) == explorer._view.min_font_pt >= 8
