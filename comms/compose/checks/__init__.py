"""The pieces of `comms templates check`, one kind of mistake per module; `comms.compose.check` runs them."""
