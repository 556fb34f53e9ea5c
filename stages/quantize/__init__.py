"""The quantize stage: int8 or bf16 for one target, calibrated, and guarded against fp32."""
