"""Search engines behind one seam: `base` (the protocols), `registry` (name -> engine), one folder each."""
