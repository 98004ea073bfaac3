"""Release builds: the self-contained executable, its platform zip, and the files that publish it.

Run by ``make dist`` (see ``dist.py``); none of this ships in the Python package.
"""
