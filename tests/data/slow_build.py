"""Open a folder dataset slowly in its own process, for the tests of builds that overlap or die midway.

    python -m tests.data.slow_build FOLDER SECONDS_PER_FILE

Every decode sleeps first and every file is checkpointed, so a test can watch the build's progress and kill it.
"""

import sys
import time

import unnoise.data.cache_build
import unnoise.data.decoding
from unnoise.data import open_dataset


def main(folder: str, delay: float) -> None:
    real_load_rgb = unnoise.data.decoding.load_rgb

    def slow_load_rgb(*arguments):
        time.sleep(delay)
        return real_load_rgb(*arguments)

    unnoise.data.decoding.load_rgb = slow_load_rgb
    unnoise.data.cache_build.CHECKPOINT_SECONDS = 0.0
    dataset = open_dataset(f"folder:{folder}", 8, progress=False)
    print(f"built {len(dataset)}")


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
