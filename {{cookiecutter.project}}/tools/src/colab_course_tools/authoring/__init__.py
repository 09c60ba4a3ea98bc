"""Authoring: the commands that keep a course consistent while it grows (`course new`, `check`, `sync`).

``checks`` finds problems (each with its fix), ``fixes`` applies the automatic ones (also at
bake time, from the template's hook), ``readme`` owns the README's lesson table and Colab
links, ``naming`` lesson file names, ``commands`` the command-line entry points.
"""
