"""Attention-23 against ONNX Runtime: 4-D and 3-D inputs, masks, causal, GQA, KV cache (atol 1e-5)."""
import pytest

from onnx_in_parity import Case, check, params, rand

B, H, S, T, D = 2, 4, 3, 5, 8

CASES = [
    Case("Attention", (23,), {"q": rand(B, H, S, D), "k": rand(B, H, T, D, seed=1), "v": rand(B, H, T, D, seed=2)},
         name="4d"),
    Case("Attention", (23,), {"q": rand(B, H, S, D), "k": rand(B, H, S, D, seed=1), "v": rand(B, H, S, D, seed=2)},
         attrs={"is_causal": 1, "scale": 0.2}, name="causal"),
    Case("Attention", (23,), {"q": rand(B, H, S, D), "k": rand(B, H, T, D, seed=1), "v": rand(B, H, T, D, seed=2),
                              "m": rand(S, T, seed=3) > -0.5}, name="bool_mask"),
    Case("Attention", (23,), {"q": rand(B, H, S, D), "k": rand(B, H, T, D, seed=1), "v": rand(B, H, T, D, seed=2),
                              "m": rand(B, 1, S, T, seed=3)}, name="float_mask"),
    Case("Attention", (23,), {"q": rand(B, H, S, D), "k": rand(B, H, S, D, seed=1), "v": rand(B, H, S, D, seed=2),
                              "pk": rand(B, H, 2, D, seed=4), "pv": rand(B, H, 2, D, seed=5)},
         order=("q", "k", "v", "", "pk", "pv"), outputs=3, name="kv_cache"),
]


@pytest.mark.parametrize("case,opset", params(CASES))
def test_attention_matches_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)


SPEC_CASES = [
    Case("Attention", (23,), {"q": rand(B, S, H * D), "k": rand(B, T, 2 * D, seed=1),
                              "v": rand(B, T, 2 * D, seed=2)}, attrs={"q_num_heads": H, "kv_num_heads": 2},
         name="3d_gqa"),
    Case("Attention", (23,), {"q": rand(B, H, S, D), "k": rand(B, 2, T, D, seed=1), "v": rand(B, 2, T, D, seed=2)},
         name="gqa"),
    Case("Attention", (23,), {"q": rand(B, H, S, D), "k": rand(B, H, T, D, seed=1), "v": rand(B, H, T, D, seed=2),
                              "m": rand(S, T, seed=3)}, attrs={"softcap": 2.0}, name="mask_softcap"),
]


@pytest.mark.parametrize("case", SPEC_CASES, ids=lambda c: c.id)
def test_3d_and_grouped_heads_follow_the_spec_reference(case, tmp_path):
    """The spec (its function body and reference) views 3-D (batch, seq, hidden) as
    (batch, heads, seq, head_size) by a plain reshape and tiles grouped K/V heads
    (k0 k1 k0 k1), and applies softcap after the mask; ONNX Runtime 1.32 splits and transposes,
    interleaves (k0 k0 k1 k1) and caps before masking.
    We follow the spec, which the backend tests check, so compare with onnx.reference here."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    from onnx_in_parity import case_model, compare, run_mxnet

    model = case_model(case, 23)
    onnx.save(model, str(tmp_path / "model.onnx"))
    compare(ReferenceEvaluator(model).run(None, case.inputs), run_mxnet(tmp_path / "model.onnx", case.inputs), 1e-5)
