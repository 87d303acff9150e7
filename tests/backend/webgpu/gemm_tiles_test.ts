/**
 * A device's tiles of particular products: those measured on its adapter by default, replaced
 * by `setGemmTiles` (what `bench/gemm_sweep.ts --out=FILE` writes), refused where a choice is
 * not a tile. That the engine runs its products in them, and agrees with the float64 reference
 * there, is tests/backend/webgpu/hardware_path_test.ts's.
 */
import { webgpuContext } from "../../../lib/backend/webgpu/device.ts";
import {
  type GemmTileChoice,
  gemmTilesOf,
  MEASURED_TILES,
  setGemmTiles,
} from "../../../lib/backend/webgpu/gemm_tiles.ts";
import { assertEquals, assertThrows } from "../../_assert.ts";

const gpu = await webgpuContext();

Deno.test({
  name: "setGemmTiles(): a device's tiles, the measured ones that fit by default, and refusals",
  ignore: gpu === null,
  fn() {
    const key = "gemm-8v4/winograd4/36×16x32x64";
    const measured = MEASURED_TILES as Record<string, Record<string, GemmTileChoice>>;
    const before = measured[gpu!.adapterName];
    try {
      // an adapter's measured tiles are its device's until others are set
      measured[gpu!.adapterName] = { [key]: { schedule: "8q", shape: { tk: 32 } } };
      setGemmTiles(gpu!, null);
      assertEquals(gemmTilesOf(gpu!).get(key), { schedule: "8q", shape: { tk: 32 } });
      // but for those that may stage more workgroup memory than the device has
      const most = gpu!.device.limits.maxComputeWorkgroupStorageSize;
      measured[gpu!.adapterName] = {
        [key]: { schedule: "8q", shape: { maxBytes: most } },
        [`${key}/t`]: { schedule: "8q", shape: { maxBytes: most + 4 } },
      };
      setGemmTiles(gpu!, null);
      assertEquals([...gemmTilesOf(gpu!).keys()], [key]);
      measured[gpu!.adapterName] = { [key]: { schedule: "8q", shape: { tk: 32 } } };
      setGemmTiles(gpu!, null);
      // a sweep's file, ratio and all
      setGemmTiles(gpu!, { [key]: { schedule: 4, shape: { rm: 4, rn: 8 }, ratio: 1.3 } });
      assertEquals([...gemmTilesOf(gpu!)], [[key, { schedule: 4, shape: { rm: 4, rn: 8 } }]]);
      const bad: [unknown, RegExp][] = [
        [{ schedule: "direct" }, /schedule "direct", expected a tiled one \(4, 4p, 8/],
        [{ schedule: "reduce" }, /schedule "reduce"/],
        [{ schedule: 8, shape: { tk: 0 } }, /shape tk = 0, expected a positive integer/],
        [{ schedule: 8, shape: { tk: 12.5 } }, /shape tk = 12.5/],
        [{ schedule: 8, shape: { depth: 16 } }, /unknown shape key 'depth', expected rm, rn/],
        [{ schedule: 8, tile: 4 }, /unknown key 'tile', expected schedule, shape or ratio/],
        [null, /null is not an object/],
      ];
      for (const [choice, message] of bad) {
        assertThrows(
          () => setGemmTiles(gpu!, { [key]: choice as GemmTileChoice }),
          message,
        );
        // nothing set: the earlier tiles stay
        assertEquals(gemmTilesOf(gpu!).get(key)?.schedule, 4);
      }
      setGemmTiles(gpu!, null);
      assertEquals(gemmTilesOf(gpu!).get(key)?.schedule, "8q");
    } finally {
      if (before === undefined) delete measured[gpu!.adapterName];
      else measured[gpu!.adapterName] = before;
      setGemmTiles(gpu!, null);
    }
    assertEquals(gemmTilesOf(gpu!).get(key), MEASURED_TILES[gpu!.adapterName]?.[key]);
  },
});
