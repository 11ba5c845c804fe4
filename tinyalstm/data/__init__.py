"""The data side: videos decoded by ffmpeg, the datasets in their official layouts, the synthetic benchmarks,
optical flow, the feature cache, the windows a model reads, and the pipeline from videos to feature maps.

- ``registry``      the one list of datasets (``--dataset``): loader, label kind, splits, built-in ones, ground truth
- ``video``         decoding (ffmpeg through imageio-ffmpeg), frame counts, damaged files
- ``datasets``      UCF101 and HMDB51 split files and folders, the skip report
- ``hollywood2``    Hollywood2 (HOHA2) actions in their layout: multi-label clips
- ``activitynet``   ActivityNet (v1.3 or v1.2): trimmed classification of its labelled segments
- ``synthetic/``    the built-in benchmarks, written as real video files: single-label in UCF101's layout, its
                    multi-label variant in Hollywood2's (a package: objects, motions, scenes, files, the two)
- ``flow``          hand-written pyramidal Lucas-Kanade optical flow and flow images (VideoLSTM sec. 5.2)
- ``features``      the per-video ``.npy`` feature cache, written atomically, read memory-mapped
- ``workers``       an ordered parallel map over worker processes, for the feature extraction
- ``cluster``       the same passes on a Dask cluster: connecting, and checking the workers see the files
- ``windows``       training and test windows (VideoLSTM sec. 5.2) and reading them as model inputs
- ``validation``    a validation split carved from the training videos, by group
- ``augment``       horizontal flips for training (aLSTM sec. 4.1)
- ``pipeline``      videos -> frames, flow -> frame encoders -> cached maps (``load_data``), its stages in order
- ``tasks``         a generated feature-sequence task for the aLSTM learning check
- ``ground_truth``  action tubes: the synthetic benchmark's annotation files and UCF101-24's two formats
"""
