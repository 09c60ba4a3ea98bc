from otter.test_files import test_case

OK_FORMAT = False

name = "validation_images"
points = 1

@test_case(points=None, hidden=False)
def test_is_a_count(validation_images):
    """a count of images: a whole number above 0"""
    assert isinstance(validation_images, int) and validation_images > 0, f'not a count: {validation_images!r}'

