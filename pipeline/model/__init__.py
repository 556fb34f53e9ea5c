"""What a model is and where it comes from: the ModelBundle, its file formats and loaders, zoo resolution, references, quantized and bf16 records."""
