"""Data preprocessing, under Keras' import paths: ``netcore.preprocessing.image``."""
