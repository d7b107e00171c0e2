// An ed25519 key pair in OpenSSH format from ssh2, drawn again when ssh2 wrote it wrong: ssh2
// encodes the 32-byte public key like an mpint, dropping a leading zero byte, so about 1 key in
// 256 comes out 31 bytes long and nothing (ssh2 itself included) parses it.
import ssh2 from "ssh2";

export interface KeyPairText {
  public: string;
  private: string;
}

export function generateEd25519(comment?: string): KeyPairText {
  for (let i = 0; i < 32; i++) {
    const pair = ssh2.utils.generateKeyPairSync("ed25519", comment === undefined ? {} : { comment });
    const pub = ssh2.utils.parseKey(pair.public);
    const priv = ssh2.utils.parseKey(pair.private);
    if (pub instanceof Error || Array.isArray(pub) || priv instanceof Error || Array.isArray(priv)) continue;
    if (!pub.getPublicSSH().equals(priv.getPublicSSH())) continue;
    return pair;
  }
  throw new Error("could not generate an ed25519 key pair that parses (32 tries)");
}
