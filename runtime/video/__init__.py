"""Video production: latent walks rendered to encoders, image sequences and pipes.

A frame is a pure function of its index (walks.py), so a render can be batched, sliced
(`--frames A:B`), resumed or sharded over Ray and still give the same frames. PyAV and Ray are
imported only by the parts that use them: `import imggen_rt.video` costs nothing extra.
"""
