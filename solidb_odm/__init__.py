"""solidb-odm: a client, a Pydantic ODM and a unit of work for SoliDB."""

from . import exceptions
from .client import Client

__version__ = "0.1.0"

__all__ = ["Client", "__version__", "exceptions"]
