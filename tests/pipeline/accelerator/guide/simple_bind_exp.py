import mxnet as mx
import pipeline.eia

data = mx.sym.var('data', shape=(1,))
sym = mx.sym.exp(data)

# Pass mx.eia() as context during simple bind operation

executor = sym.simple_bind(ctx=mx.eia(), grad_req='null')
for i in range(10):

  # Forward call is performed on remote accelerator
  executor.forward(data=mx.nd.ones((1,)))
  print('Inference %d, output = %s' % (i, executor.outputs[0]))
