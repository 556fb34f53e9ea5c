"""The accelerator: a network-attached inference server with the Elastic Inference sizes.

`protocol` frames requests over TCP, `server` holds models within a size's memory, `client`
talks to it (and offers `RemoteSubgraphEngine`), `embedded` starts a private local server,
`executor` is the `mx.eia()` executor used by `pipeline.eia`. Modules are imported explicitly
by their users; importing this package imports nothing heavy.
"""
