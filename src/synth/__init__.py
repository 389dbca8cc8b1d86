"""The synthetic people of :mod:`src.synthetic` (still images) and :mod:`src.synthetic_video`:
body model (:mod:`.body`), drawing (:mod:`.render`) and labels (:mod:`.labels`)."""
