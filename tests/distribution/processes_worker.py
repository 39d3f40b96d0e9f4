"""One of two processes started by test_processes.py: `processes_worker.py ID PORT OUT_DIR`.

Both processes first fit a reference model alone on the whole batches (no distribution, this
process's own device), then join a DataParallel run in which each feeds its half of every
batch; prints one JSON line with both results.
"""

import json
import sys

import numpy as np

import rnnkit
from rnnkit import distribution as D
from rnnkit import layers

PROCESS_ID, PORT, OUT = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
N, T, F, BATCH = 32, 6, 3, 8  # BATCH: the global batch; each process feeds BATCH // 2 rows

D.initialize(f"127.0.0.1:{PORT}", 2, PROCESS_ID, timeout=60)

rng = np.random.default_rng(0)
X = rng.normal(size=(N, T, F)).astype("float32")
Y = rng.normal(size=(N, 1)).astype("float32")
# this process's half of every global batch: rows [b*8 + id*4, b*8 + id*4 + 4)
HALF = BATCH // 2
MINE = np.concatenate([np.arange(b * BATCH + PROCESS_ID * HALF, b * BATCH + (PROCESS_ID + 1) * HALF)
                       for b in range(N // BATCH)])


def model():
    rnnkit.set_random_seed(5)
    m = rnnkit.Sequential([rnnkit.Input((T, F)), layers.LSTM(8), layers.Dense(1)])
    m.compile(optimizer="adam", loss="mse")
    return m


def results(m, x, y, batch_size):
    hist = m.fit(x, y, batch_size=batch_size, epochs=2, shuffle=False, verbose=0)
    return {"loss": hist.history["loss"],
            "weights": [w.tolist() for w in m.get_weights()],
            "predict": m.predict(x, batch_size=batch_size, verbose=0).tolist(),
            "evaluate": float(m.evaluate(x, y, batch_size=batch_size, verbose=0))}


alone = results(model(), X, Y, BATCH)
alone["predict"] = np.asarray(alone["predict"])[MINE].tolist()  # compared with my rows

D.set_distribution(D.DataParallel())
shared_model = model()
shared = results(shared_model, X[MINE], Y[MINE], HALF)
path = f"{OUT}/model.rnnkit"
shared_model.save(path)  # every process calls save; process 0 writes
saved = [w.tolist() for w in rnnkit.load_model(path).get_weights()]

print("RESULT " + json.dumps({"process": PROCESS_ID, "devices": D.list_devices(),
                              "alone": alone, "shared": shared, "saved": saved}), flush=True)
