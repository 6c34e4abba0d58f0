// One connection per name across a page's tabs (filled in below).
export class Tabs {
  static available() {
    return false;
  }
}
