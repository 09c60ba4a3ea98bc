from otter.test_files import test_case

OK_FORMAT = False

name = "share_of_threes"
points = 2

@test_case(points=None, hidden=False)
def test_is_a_share(share_of_threes):
    """a share is a number between 0 and 1"""
    assert 0 <= float(share_of_threes) <= 1, f'a share is between 0 and 1, not {share_of_threes!r}'

