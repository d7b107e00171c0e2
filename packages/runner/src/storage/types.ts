// Storage for one environment: an ext4 image on a loop device (workspace + writable rootfs
// layer), and an overlay rootfs whose lower layers are idmapped mounts of shared image layers.

export interface IdMap {
  /** Host uid/gid that maps to 0 inside. */
  hostStart: number;
  size: number;
}

export interface ImageLayers {
  ref: string;
  digest: string;
  /** Absolute directories of unpacked layers, lowest first. */
  layerDirs: string[];
  /** Image config (OCI config.config): Env, Cmd, WorkingDir, User. */
  config: {
    env: string[];
    cmd: string[];
    workingDir: string;
    user: string;
    /** The image config's Labels (devcontainer.metadata among them); absent on older records. */
    labels?: Record<string, string>;
  };
}
