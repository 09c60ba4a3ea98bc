"""The course as a website: `course site` builds it from the notebooks the harness already executed.

``sources`` picks each lesson's newest executed notebook and says which run made it, ``pages``
turns lessons, the README and the last report into the pages of a Sphinx project (myst-nb renders
stored outputs, never executing), ``build`` runs Sphinx into ``build/site/``, ``commands`` holds
`course site [--serve]`. The tools are in the ``[site]`` extra; the setup cell never installs them.
"""
