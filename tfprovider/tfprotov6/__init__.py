"""The one place where tfplugin6 wire messages meet the provider's plain types.

``fromproto`` decodes requests, ``toproto`` builds responses; a protocol bump touches this
folder and the generated ``tfprovider.protocol`` package, nothing else.
"""
