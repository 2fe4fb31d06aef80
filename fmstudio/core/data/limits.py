"""How much a data file may hold: every loader checks these against headers and file sizes
before it allocates, so a lying header, a decompression bomb or a tiny pickle that builds a huge
object is refused in one line instead of exhausting memory.

Each limit sits well above the real datasets it must admit (named beside it) and well below what
would take a machine down; past it, the file is not what its loader is for.
"""

from __future__ import annotations

from fmstudio.core.safe_read import GIB, KIB, MIB

MAX_FILE_POINTS = 2_000_000
"""Points in a .npy/.csv point file: 10x what a drawing holds (`drawing.MAX_POINTS`); a 2-D
target with more is not a drawing. At this many, a CSV written by `save_points` (59 MiB) takes
1.7 s and 0.45 GB of memory to load; the .npy 10 ms."""

MAX_CSV_BYTES = MAX_FILE_POINTS * 48
"""A point CSV: 48 bytes a row ("%.9g,%.9g" with signs and exponents is at most ~34)."""

MAX_NPY_HEADER_BYTES = 64 * KIB
"""Room for a .npy header (numpy itself refuses headers over 10 000 bytes by default)."""

MAX_IMAGE_SIDE = 1024
"""The largest image side a run may train at (config `image_size`, a dataset's own size, an
image density's grid): 32x the 28 px of MNIST; a U-Net step at 1024 px is already slow on a GPU."""

MAX_DATASET_BYTES = 4 * GIB
"""An image set as float32 (N x C x H x W x 4 bytes), checked before it is built: MNIST is
188 MB, CIFAR-10 614 MB; past this a smaller image size or a `limit` is what the user meant."""

MAX_IDX_BYTES = 128 * MIB
"""An IDX images file, decompressed: MNIST/Fashion-MNIST training images are 47 MB, EMNIST
balanced and letters 88 and 98 MB. It bounds what a gzip bomb can make us inflate."""

MAX_CIFAR_BATCH_BYTES = 64 * MIB
"""One CIFAR-10 batch file: the real ones are 30 MiB (10 000 images, python or binary)."""

MAX_PICKLE_OPCODES = 1_000_000
"""Opcodes in a CIFAR-10 pickle, counted before unpickling: a real batch has ~30 000 (Python 2's
cPickle, one per label and two per file name), 90 000 when rewritten by Python 3 at protocol 2.
Each opcode can make an object of ~100 bytes, so a file of 64 MiB of one-byte opcodes would
otherwise build gigabytes of empty lists."""

MAX_PICTURE_PIXELS = 64 << 20
"""Pixels of one picture (8192 x 8192, 67 MP), read from its header before decoding: above any
phone or camera photo (<= 50 MP), below Pillow's own bomb warning (89 MP)."""

MAX_PICTURE_BYTES = 256 * MIB
"""A picture file: what an uncompressed 67 MP RGBA picture takes."""

MAX_FOLDER_ENTRIES = 100_000
"""Files and folders a `folder:` image set may make us look at (about 0.2 s of walking);
an image folder that trains in reasonable time holds far fewer pictures."""

MAX_FOLDER_DEPTH = 8
"""Folder levels under a `folder:` image set (class-per-folder sets use one or two)."""
