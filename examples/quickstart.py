"""Runs the tutorials' first examples with rnnkit and prints their shapes."""

import numpy as np

from rnnkit.layers import GRU, LSTM, Bidirectional, SimpleRNN

input_data = np.array([[[1.0, 2.0, 3.0, 4.0, 5.0],
                        [2.0, 3.0, 4.0, 5.0, 6.0],
                        [3.0, 4.0, 5.0, 6.0, 7.0]]], dtype=np.float32)

for layer in (SimpleRNN(units=64, return_sequences=True), LSTM(units=64, return_sequences=True),
              GRU(units=64, return_sequences=True),
              Bidirectional(LSTM(64, return_sequences=True))):
    print(f"Shape of {type(layer).__name__} output:", layer(input_data).shape)
