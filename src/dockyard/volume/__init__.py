"""Volumes: the local volume driver, bind mounts, tmpfs mounts and copy-up of image content
(Docker volumes docs). ``spec`` parses the ``-v``/``--mount``/``--tmpfs`` syntax (import-light,
used by the CLI); ``store.VolumeStore`` keeps volumes and the mount points of containers.
"""
