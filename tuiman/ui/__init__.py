"""The full-screen Textual UI of tuiman (§7).

It talks to the core only through `tuiman.client.CoreClient`: commands in, bus events out.
"""
