from otter.test_files import test_case

OK_FORMAT = False

name = "accuracy_from_matrix"
points = 2

@test_case(points=None, hidden=False)
def test_is_a_share(accuracy_from_matrix):
    """an accuracy is a number between 0 and 1"""
    assert 0 <= float(accuracy_from_matrix) <= 1, f'an accuracy is between 0 and 1, not {accuracy_from_matrix!r}'

