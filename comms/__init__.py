"""comms: documents and multichannel communications for a Belgian social insurance fund."""

__version__ = "0.1.0"
