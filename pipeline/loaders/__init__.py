"""Loaders that validate a model file before MXNet's native code sees its bytes.

One module per format: symbol_json (graph structure, ops, attrs), ndarray_file (the byte
layout of mx.nd.save files) and params (a checkpoint's params against its graph). YAML is
loaded by pipeline.run.config.yamlsafe. Each raises ModelError with a code from docs/errors.md
naming the file and the place (line:col, node, array or byte offset).
"""
