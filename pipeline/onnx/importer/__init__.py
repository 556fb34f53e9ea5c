"""Our ONNX -> MXNet Symbol importer (opsets 7-23).

The way in is `pipeline.onnx.load.load_onnx(path, input_shapes)`: it reads the file through
`onnxfile.read_onnx` (the external-data checks), converts it and names the file in every error.
Converters live one op family per module, all listed in `families`.
"""
