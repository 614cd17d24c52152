"""Image preprocessing, as ``keras.preprocessing.image``: :class:`ImageDataGenerator`."""

from .image_generator import ImageDataGenerator, NumpyArrayIterator

__all__ = ["ImageDataGenerator", "NumpyArrayIterator"]
