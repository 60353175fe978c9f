"""The control socket (docs/control-protocol.md): the server inside every tuiman (`server`,
`connection`, `endpoint`, `paths`, the wire format in `protocol`) and `tuiman ctl` (`ctl`,
`locate`, `render`, `streams`, the blocking `client` connection it uses).

Import-light on purpose: `tuiman ctl` never pulls in Textual or Rich (an import contract).
The remote `CoreClient` that `tuiman attach` uses lives in `tuiman.client.remote`.
"""
