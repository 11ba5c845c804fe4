"""The data side: videos decoded by ffmpeg, the datasets in their official layouts, the synthetic benchmark,
optical flow, the feature cache, the windows a model reads, and the pipeline from videos to feature maps.

- ``video``      decoding (ffmpeg through imageio-ffmpeg), frame counts, damaged files
- ``datasets``   UCF101 and HMDB51 split files and folders, the skip report
- ``synthetic``  the built-in benchmark, written as real video files in UCF101's layout
- ``flow``       hand-written pyramidal Lucas-Kanade optical flow and flow images (VideoLSTM sec. 5.2)
- ``features``   the per-video ``.npy`` feature cache, written atomically, read memory-mapped
- ``windows``    training and test windows (VideoLSTM sec. 5.2) and reading them as model inputs
- ``pipeline``   videos -> frames, flow -> frame encoders -> cached maps (``load_data``)
- ``tasks``      a generated feature-sequence task for the aLSTM learning check
"""
