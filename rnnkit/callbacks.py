"""Keras-named training callbacks (`rnnkit.callbacks.EarlyStopping`, ...)."""

from rnnkit.models.callbacks import (Callback, CallbackList, EarlyStopping, History,
                                     LambdaCallback, ModelCheckpoint, ProgbarLogger,
                                     ReduceLROnPlateau, TerminateOnNaN)

__all__ = ["Callback", "CallbackList", "EarlyStopping", "History", "LambdaCallback",
           "ModelCheckpoint", "ProgbarLogger", "ReduceLROnPlateau", "TerminateOnNaN"]
