"""Model files: the format (:mod:`.format`), writing (:mod:`.writer`), reading (:mod:`.reader`)
and rebuilding a model from a file (:mod:`.loader`, ``netcore.load_model``).

The package itself imports only the format, the writer and the reader: the loader builds a
:class:`~netcore.models.Sequential`, whose ``save`` uses the writer, so importing the loader
here would make the package and the model import each other.
"""

from .format import FORMAT, FORMAT_VERSION
from .reader import ModelFile
from .writer import check_save_target, save_model, write_model_file

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ModelFile",
    "check_save_target",
    "save_model",
    "write_model_file",
]
