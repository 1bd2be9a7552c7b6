"""The study's figures (the paper's Figs. 1-7, and Fig. 8 of the joint law), drawn with
seaborn from the tables.

Every drawing function takes frames and config sections and returns a matplotlib
figure; it lives in the module of its kind (scaling, realizations, samples), and
``registry`` lists the figures and what each needs. This package file imports none of
them on purpose: a script that draws one kind of figure reaches only that module, so
its code version (regscale.codeversion) moves only when that code does.
"""
