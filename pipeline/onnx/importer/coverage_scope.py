"""What the coverage sweep measures against: its tolerances and the documented scope of ops.

Apart from the sweep (coverage.py) and its report (coverage_report.py) so that both read them
without importing each other.
"""
RTOL, ATOL = 1e-3, 1e-5

# The documented scope: the ops of vision (CNN, detection/segmentation heads) and NLP
# (transformer, RNN) inference models.
SCOPE = frozenset("""
Abs Add And ArgMax ArgMin AveragePool BatchNormalization Cast CastLike Ceil Clip Concat Constant
ConstantOfShape Conv ConvTranspose Cos CumSum DepthToSpace Div Dropout Elu Equal Erf Exp Expand Flatten
Floor GRU Gather GatherElements GatherND Gelu Gemm GlobalAveragePool GlobalMaxPool Greater GreaterOrEqual
HardSigmoid HardSwish Identity InstanceNormalization LRN LSTM LayerNormalization LeakyRelu Less
LessOrEqual Log LogSoftmax MatMul Max MaxPool Mean Min Mish Mul Neg Not OneHot Or PRelu Pad Pow Range
Reciprocal ReduceL2 ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape
Resize Round Shape Sigmoid Sign Sin Size Slice Softmax Softplus Split Sqrt Squeeze Sub Sum Tanh Tile TopK
Transpose Trilu Unsqueeze Upsample Where Xor
""".split())
