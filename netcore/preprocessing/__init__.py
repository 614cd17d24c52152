"""Preprocessing with Keras' import paths: :mod:`netcore.preprocessing.image` (image files,
``ImageDataGenerator``)."""
