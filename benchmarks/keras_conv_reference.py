"""The lecture's convolutional auto-encoder in Keras, as the speed reference for conv_mnist.py.

Run by conv_mnist.py with ``--keras-python`` (an interpreter that has TensorFlow, which aelab does
not install): ``python keras_conv_reference.py MNIST_DIR EPOCHS BATCH``. Prints one JSON line.
The architecture is the Keras blog's: conv 16-8-8 (3x3, same padding), 2x2 max pooling after
each, then conv 8-8-16 with UpSampling2D between, a sigmoid conv output and binary cross-entropy.
"""

import gzip
import json
import os
import sys
import time

import numpy as np


def read_idx(path):
    with gzip.open(path) if path.endswith(".gz") else open(path, "rb") as fh:
        data = fh.read()
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def find(folder, stem):
    for name in os.listdir(folder):
        if name.startswith(stem):
            return os.path.join(folder, name)
    raise SystemExit(f"no {stem}* in {folder}")


def main():
    folder, epochs, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    import tensorflow as tf
    from tensorflow import keras
    from tensorflow.keras import layers

    x_train = (read_idx(find(folder, "train-images")) / 255.0).astype("float32")[..., None]
    x_test = (read_idx(find(folder, "t10k-images")) / 255.0).astype("float32")[..., None]
    keras.utils.set_random_seed(0)
    inp = keras.Input((28, 28, 1))
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(inp)
    x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Conv2D(8, 3, activation="relu", padding="same")(x)
    x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Conv2D(8, 3, activation="relu", padding="same")(x)
    code = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Conv2D(8, 3, activation="relu", padding="same")(code)
    x = layers.UpSampling2D(2)(x)
    x = layers.Conv2D(8, 3, activation="relu", padding="same")(x)
    x = layers.UpSampling2D(2)(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    x = layers.UpSampling2D(2)(x)
    out = layers.Conv2D(1, 3, activation="sigmoid", padding="same")(x)
    model = keras.Model(inp, out)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t)

    model.fit(x_train, x_train, epochs=epochs, batch_size=batch, shuffle=True, verbose=0, callbacks=[Timer()])
    rec = model.predict(x_test, batch_size=1024, verbose=0).astype(np.float64)
    xt = x_test.astype(np.float64)
    eps = 1e-7
    rc = np.clip(rec, eps, 1 - eps)
    bce = float(np.mean(np.sum(-(xt * np.log(rc) + (1 - xt) * np.log(1 - rc)), axis=(1, 2, 3))))
    sq = float(np.mean(np.sum((rec - xt) ** 2, axis=(1, 2, 3))))
    steady = times[1:] or times  # the first epoch includes tracing
    print(
        json.dumps(
            {
                "tensorflow": tf.__version__,
                "keras": keras.__version__,
                "epochs": epochs,
                "samples_per_s": len(x_train) / float(np.median(steady)),
                "seconds": sum(times),
                "test_bce": bce,
                "test_squared_error": sq,
            }
        )
    )


if __name__ == "__main__":
    main()
