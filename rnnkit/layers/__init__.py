"""Keras-named layers."""

from rnnkit.layers.bidirectional import Bidirectional
from rnnkit.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from rnnkit.layers.conv_lstm_cell import ConvLSTMCell
from rnnkit.layers.input_layer import Input, InputLayer
from rnnkit.layers.lru import LRU, LRUCell
from rnnkit.layers.layer import Layer
from rnnkit.layers.min_rnn import MinGRU, MinGRUCell, MinLSTM, MinLSTMCell
from rnnkit.layers.recurrent import GRU, LSTM, SimpleRNN
from rnnkit.layers.rnn import RNN
from rnnkit.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell
from rnnkit.layers.serialization import register
from rnnkit.layers.stacked import AbstractRNNCell, StackedRNNCells
from rnnkit.layers.basic import Activation, Dense, Dropout, Flatten, Reshape
from rnnkit.layers.embedding import Embedding, Masking
from rnnkit.layers.merge import Add, Average, Concatenate, Multiply, Subtract
from rnnkit.layers.normalization import LayerNormalization
from rnnkit.layers.wrappers import TimeDistributed
