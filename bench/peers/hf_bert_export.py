"""Export a random-weight Hugging Face BERT to ONNX, for bench/bench_peers.py (runs in .venv-peers).

The peer a user would otherwise reach for: the same architecture as GluonNLP's bert_12_768_12
(12 layers, hidden 768, 12 heads, vocab 30522), built with `transformers` and exported by
`torch.onnx.export`. Imports nothing of mxdeploy (torch needs numpy 2).

    python hf_bert_export.py OUT.onnx [--layers 12] [--seq 128] [--batch 1]
"""
from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--vocab", type=int, default=30522)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args(argv)
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=args.vocab, hidden_size=args.hidden, num_hidden_layers=args.layers,
                        num_attention_heads=args.heads, intermediate_size=4 * args.hidden,
                        attn_implementation="eager")
    bert = BertModel(config).eval()

    class Positional(torch.nn.Module):
        """BertModel's forward by keyword (its positional order changed across releases)."""

        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state, out.pooler_output

    model = Positional().eval()
    ids = torch.randint(0, args.vocab, (args.batch, args.seq))
    types = torch.zeros_like(ids)
    mask = torch.ones_like(ids)
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask, types), args.out, input_names=["input_ids", "attention_mask",
                                                                               "token_type_ids"],
                          output_names=["last_hidden_state", "pooler_output"], opset_version=17, dynamo=False)
    print(json.dumps({"ok": True, "torch": torch.__version__, "layers": args.layers}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
