"""An AWS endpoint on 127.0.0.1 that the project's real `cdk bootstrap` and `cdk deploy` can
deploy to: moto 5.2.5 in server mode, plus what moto lacks for this stack.

Each module is one named extension of moto (see `extensions.py` for the list, applied in one
place by `install()`), each with its own unit test in `tests/unit/local_aws/`, so that a moto
upgrade shows at once which one broke. Nothing here knows the stack: every resource the endpoint
serves comes from the synthesized template and its assets.
"""
