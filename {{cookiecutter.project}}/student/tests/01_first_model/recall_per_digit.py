from otter.test_files import test_case

OK_FORMAT = False

name = "recall_per_digit"
points = 2

@test_case(points=None, hidden=False)
def test_one_value_per_digit(recall_per_digit, confusion):
    """one recall per row of the matrix"""
    assert len(recall_per_digit) == len(confusion), f'expected {len(confusion)} values, one per digit'

