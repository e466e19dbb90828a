"""Linli's Chinese NLU: Rasa 3.6 pipeline (config.yml), training data (nlu/data), CLI and service."""
import os

# Quiet TensorFlow and keep Rasa from phoning home; set before either is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
