"""Four ways to break lesson 01's training that raise nothing: the band test breaks it so, and so does
benchmarks/bands.py."""

LESSON = "01_first_model"
# name -> (the line as the lesson has it, the line that breaks training without an error)
BREAKS = {
    "03_learning_rate_x1000": (
        "learn.fit_one_cycle(epochs, learning_rate)",
        "learn.fit_one_cycle(epochs, learning_rate * 1000)",
    ),
    "04_shuffled_labels": (
        "get_y=parent_label,",
        "get_y=lambda path: __import__('random').Random(path.name).choice('0123456789'),",
    ),
    "05_destroyed_images": (
        "Image.fromarray((pixels * 255 / 16).astype(np.uint8)).save(file)",
        "Image.fromarray(np.random.default_rng(index).integers(0, 256, pixels.shape).astype(np.uint8)).save(file)",
    ),
    "06_wrong_direction": (
        "accuracy=valid_accuracy,",
        "accuracy=1 - valid_accuracy,",
    ),  # the error rate logged as accuracy
}
