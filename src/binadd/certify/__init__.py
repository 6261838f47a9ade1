"""Proving that a recurrent network adds correctly at every length, or refuting it.

:func:`~binadd.certify.certificate.certify_model` is the entry point and
:mod:`binadd.certify.certificate` describes the method. The other modules, in
the order a certification uses them: ``visits`` (the states a network visits),
``partitions`` (how they are grouped), ``regions``, ``intervals`` and
``cellmaps`` (sound enclosures of one step), ``proof`` (regions grown until
they close), ``counterexample`` (operands the network gets wrong),
``automaton`` (the automaton a certified network implements) and ``plot``.
"""
