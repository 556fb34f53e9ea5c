"""ONNX in both directions: the MXNet exporter with its quirks, the ONNX file reader, and our ONNX -> MXNet importer."""
