"""An example rivers executor running steps on a thread pool (see ``plugin`` and ``launcher``)."""
